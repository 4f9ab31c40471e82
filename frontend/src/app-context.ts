import { createContext, useContext } from 'react';
import type { Api, Me, PortalConfig } from './api';

export interface AppContextValue {
  api: Api;
  config: PortalConfig;
  me: Me | null;
}

export const AppContext = createContext<AppContextValue | null>(null);

export function useApp(): AppContextValue {
  const v = useContext(AppContext);
  if (!v) throw new Error('AppContext missing');
  return v;
}
